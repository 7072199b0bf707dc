"""completeness_revision: a counter per course that every change of the completeness figures raises

Revision ID: review_completeness_revision
Revises: review_attendance_present
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa

revision = "review_completeness_revision"
down_revision = "review_attendance_present"
branch_labels = None
depends_on = None

# Triggers, not application code, raise the counter: the cached figures must never be stale, and a
# trigger sees every write in its own transaction, whoever makes it (pages, API, CLI, roster sync,
# a restore, a hand-written fix). table -> (events, the course(s) a row of it counts for, as SQL
# over {row}, which is NEW or OLD). A unit's code or name is shown for every course.
WATCHED = {
    "essay_version": ("INSERT OR UPDATE OR DELETE", "SELECT course_id AS c FROM essay WHERE id = {row}.essay_id"),
    "essay": ("UPDATE OF course_id, topic_id, trainee_id OR DELETE", "SELECT {row}.course_id AS c"),
    "extension": ("INSERT OR UPDATE OR DELETE", "SELECT {row}.course_id AS c"),
    "attendance": ("INSERT OR UPDATE OR DELETE",
                   "SELECT course_id AS c FROM enrollment WHERE id = {row}.enrollment_id"),
    "exemption": ("INSERT OR UPDATE OR DELETE", "SELECT course_id AS c FROM enrollment WHERE id = {row}.enrollment_id"),
    "enrollment": ("INSERT OR UPDATE OR DELETE", "SELECT {row}.course_id AS c"),
    "topic": ("INSERT OR UPDATE OR DELETE", "SELECT {row}.course_id AS c"),
    "course": ("INSERT OR UPDATE OR DELETE", "SELECT {row}.id AS c"),
    "unit": ("UPDATE OF code, name OR DELETE", "SELECT id AS c FROM course"),
}
# The courses selected get revision 1, or one more than they had. (INSERT … SELECT needs a WHERE for
# SQLite to read ON CONFLICT as the upsert clause.)
BUMP = ("INSERT INTO completeness_revision (course_id, revision) SELECT c, 1 FROM ({courses}) AS bumped "
        "WHERE c IS NOT NULL ON CONFLICT (course_id) DO UPDATE SET revision = completeness_revision.revision + 1")


def _rows(events: str) -> list[str]:
    """Which of NEW and OLD a trigger on these events reads (both for an update: a row may move)."""
    rows = []
    if "INSERT" in events or "UPDATE" in events:
        rows.append("NEW")
    if "DELETE" in events or "UPDATE" in events:
        rows.append("OLD")
    return rows


def upgrade() -> None:
    op.create_table(
        "completeness_revision",
        sa.Column("course_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_completeness_revision")),
    )
    op.execute("INSERT INTO completeness_revision (course_id, revision) SELECT id, 1 FROM course")
    if op.get_bind().dialect.name == "postgresql":
        for table, (events, courses) in WATCHED.items():
            body = []
            for row in _rows(events):
                statement = BUMP.format(courses=courses.format(row=row))
                guard = {"NEW": "TG_OP <> 'DELETE'", "OLD": "TG_OP <> 'INSERT'"}[row]
                body.append(f"IF {guard} THEN {statement}; END IF;")
            op.execute(f"""CREATE FUNCTION completeness_bump_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
                           BEGIN {' '.join(body)} RETURN NULL; END $$""")
            # Deferred to the commit: the counter's row stays locked for the commit only, not for
            # the rest of a hand-in's transaction (uploads of one course would queue on it).
            op.execute(f"""CREATE CONSTRAINT TRIGGER completeness_{table} AFTER {events} ON "{table}"
                           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                           EXECUTE FUNCTION completeness_bump_{table}()""")
    else:
        for table, (events, courses) in WATCHED.items():
            for event in events.split(" OR "):
                name = event.split()[0].lower()
                rows = _rows(event)
                body = " ".join(BUMP.format(courses=courses.format(row=row)) + ";" for row in rows)
                op.execute(f'CREATE TRIGGER completeness_{table}_{name} AFTER {event} ON "{table}" BEGIN {body} END')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f'DROP TRIGGER completeness_{table} ON "{table}"')
            op.execute(f"DROP FUNCTION completeness_bump_{table}()")
    else:
        for table, (events, _courses) in WATCHED.items():
            for event in events.split(" OR "):
                op.execute(f"DROP TRIGGER completeness_{table}_{event.split()[0].lower()}")
    op.drop_table("completeness_revision")
