"""Hand-offs to other tools (Jira, Trello, a CRM, any webhook): what a connector plug-in
implements (``connector``), the only HTTP client it may use (``http``), and the outbox that
delivers each event exactly once, after the change that made it is committed."""
