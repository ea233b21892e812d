-- Whom an https webhook trusts, and attempts that failed on this machine.

-- ca_file: absolute path of the PEM file whose CAs replace the system's for this webhook (NULL: the
-- system's); verify = 0: its certificate is not checked at all (warned about, never the default).
ALTER TABLE webhook ADD COLUMN ca_file TEXT;
ALTER TABLE webhook ADD COLUMN verify INTEGER NOT NULL DEFAULT 1 CHECK (verify IN (0, 1));

-- local = 1: the attempt failed on this machine (no file descriptor left, out of memory…) and did not
-- count against the receiver's schedule (outbox.attempts was not incremented).
ALTER TABLE delivery_attempt ADD COLUMN local INTEGER NOT NULL DEFAULT 0 CHECK (local IN (0, 1));
