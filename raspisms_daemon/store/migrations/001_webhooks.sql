-- Webhooks, the durable outbox and the log of every delivery attempt.
-- Times are unix seconds (REAL); webhook.types is a comma-separated list of event types.

CREATE TABLE webhook (
    id              INTEGER PRIMARY KEY,
    name            TEXT    NOT NULL UNIQUE,
    url             TEXT    NOT NULL,
    types           TEXT    NOT NULL,
    format          TEXT    NOT NULL DEFAULT 'form' CHECK (format IN ('form', 'json')),
    enabled         INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    source          TEXT    NOT NULL DEFAULT 'api' CHECK (source IN ('config', 'api')),
    -- what the config said last time (url|types|format|enabled), so a 410-disable survives restarts
    -- until the config itself changes
    config_digest   TEXT,
    created_at      REAL    NOT NULL
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
    type            TEXT    NOT NULL,
    body            TEXT    NOT NULL,          -- compact JSON
    timestamp       INTEGER NOT NULL,          -- when the event was generated
    random_id       TEXT    NOT NULL,          -- identical on every retry
    signature       TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- a claimed row gets next_attempt_at = lease_until, so a dispatcher that dies leaves it due again
    -- once the lease runs out, and claiming needs one index range scan only
    next_attempt_at REAL    NOT NULL,
    lease_until     REAL,
    last_error      TEXT,
    last_status     INTEGER,
    created_at      REAL    NOT NULL,
    delivered_at    REAL
);

-- Partial indexes: a million delivered rows do not slow down claiming due ones.
CREATE INDEX outbox_pending_due ON outbox (webhook_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_delivered_at ON outbox (delivered_at) WHERE state = 'delivered';
CREATE INDEX outbox_state ON outbox (state, id);

CREATE TABLE delivery_attempt (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    at          REAL    NOT NULL,
    status      INTEGER,                       -- HTTP status, NULL when no response
    error       TEXT,
    duration_ms REAL    NOT NULL
);

CREATE INDEX delivery_attempt_outbox ON delivery_attempt (outbox_id);
