"""The lifecycle kit: a stateful record is a declaration plus its own rules.

A domain declares its ``Lifecycle`` once (states, transitions with the permission each
needs, deadlines each opens, meets or cancels), loads its record in scope, then calls
``check`` (one order everywhere: 404 before 428/412 before 403 before 409) and ``move``
(deadlines, fields, state, one ``record_transition`` row, one flush). See CONTRIBUTING.md,
"Adding a stateful domain".
"""

from services.core.lifecycle.machine import Action, Deadlines, Lifecycle, Transition
from services.core.lifecycle.service import (
    Checked,
    Creation,
    Moving,
    check,
    creating,
    creation,
    history,
    move,
    moving,
    require_version,
)

__all__ = [
    "Action",
    "Checked",
    "Creation",
    "Deadlines",
    "Lifecycle",
    "Moving",
    "Transition",
    "check",
    "creating",
    "creation",
    "history",
    "move",
    "moving",
    "require_version",
]
