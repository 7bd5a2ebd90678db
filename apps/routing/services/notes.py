"""Notes on a queue item for the next person (`assignment_add_note`): kept with their author
and time, never edited. `NOTE_REQUIRED` is the refusal of an empty note (forms import it).
"""

from apps.core.errors import DomainError
from apps.core.fsm import save_tracked
from apps.routing.models import AssignmentNote, QueueAssignment
from apps.routing.services.checks import _check_holder, _check_role

NOTE_REQUIRED = "Write the note first: it cannot be empty."


def assignment_add_note(*, assignment: QueueAssignment, actor, body: str) -> AssignmentNote:
    """A note for the next person, by the holder (or, on a waiting item, anyone who works the
    queue). Kept with its author and time; never edited."""
    body = (body or "").strip()
    if not body:
        raise DomainError(NOTE_REQUIRED, code="note_required")
    _check_role(actor, assignment.queue)
    _check_holder(assignment, actor)
    note = AssignmentNote(assignment=assignment, author=actor, body=body)
    save_tracked(note, actor=actor, reason="assignment_add_note")
    return note
