"""Who did something: a staff member, an agency contact, or Responder itself."""

from __future__ import annotations

from dataclasses import dataclass

from responder.models import Contact, User


@dataclass(frozen=True)
class Actor:
    user: User | None = None
    contact: Contact | None = None

    @classmethod
    def of(cls, someone: User | Contact | None) -> Actor:
        if isinstance(someone, User):
            return cls(user=someone)
        if isinstance(someone, Contact):
            return cls(contact=someone)
        return SYSTEM

    @property
    def sharing_name(self) -> str:
        """How the sharing record names who shared: "user:<email>", "contact:<key>" or "system"."""
        if self.user is not None:
            return f"user:{self.user.email}"
        if self.contact is not None:
            return f"contact:{self.contact.key}"
        return "system"


SYSTEM = Actor()
