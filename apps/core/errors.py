"""Domain errors: what a refused use case tells the user.

Views turn them into a message on the page, the API into a JSON body with the status
code below. They never reach the user as a 500.
"""


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


class TransitionRefused(DomainError):
    """The object is not in a state that allows this step (HTTP 409)."""

    status_code = 409


class ActionForbidden(DomainError):
    """The acting user lacks the permission for this step (HTTP 403)."""

    status_code = 403
