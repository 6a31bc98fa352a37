"""Pure business rules of canceldesk: no framework, database or network imports here."""
