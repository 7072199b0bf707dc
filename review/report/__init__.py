"""The course report: figures (data), the edited prose, and the .xlsx/.docx files with their charts."""
