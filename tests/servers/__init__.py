"""Real database servers for the suite: PostgreSQL and MariaDB, one each per session, started on first use.

``fixtures`` holds the session fixtures (``postgres``, ``mariadb``); ``database`` the object they yield, whose
``execute`` runs SQL through the server's own client; ``postgres`` and ``mariadb`` the launchers, which a test
can also use directly for a server of its own; ``base`` the life cycle the launchers share.
"""
