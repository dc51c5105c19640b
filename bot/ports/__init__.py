"""Protocols the service layer depends on; adapters implement them. One module per concern:

- ``store``: the repositories and the unit of work;
- ``effects``: what delivers effects (handlers, the promotion launcher);
- ``chat``: what a chat channel gives the chat core (its transport);
- ``clock``: time.
"""
