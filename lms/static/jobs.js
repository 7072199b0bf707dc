// Follows a background job on its page: polls the API and shows progress, then the download link.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("job");
  if (!box) return;
  const labels = { queued: "Đang chờ xử lý…", running: "Đang xử lý…", done: "Đã xong.", failed: "Không thành công." };
  const poll = async () => {
    const response = await fetch(box.dataset.statusUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const job = await response.json();
    document.getElementById("job-status").textContent = labels[job.status] || job.status;
    document.getElementById("job-progress").value = job.progress;
    document.getElementById("job-message").textContent = job.message || "";
    const link = document.getElementById("job-download");
    if (job.download_url) {
      link.href = job.download_url;
      link.classList.remove("hidden");
    }
    if (job.status === "queued" || job.status === "running") setTimeout(poll, 1000);
  };
  poll();
});
