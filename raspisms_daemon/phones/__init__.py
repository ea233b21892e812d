"""The phones: what turns modem events into rows and webhooks, and scheduled SMS into modem sends.

- :mod:`.supervisor` — one per ``[phone:ID]``: keeps the backend started, takes each event in with one
  transaction (row + outbox rows + ``taken_in``) and only then deletes it from the SIM;
- :mod:`.sender` — scheduled SMS → ``sended`` rows → the modem, and delivery reports → statuses;
- :mod:`.calls` — incoming calls; :mod:`.reliability_job` and :mod:`.jobs` — the periodic jobs;
- :mod:`.multipart` and :mod:`.matching` — the pure decisions (reassembly, report matching).
"""
