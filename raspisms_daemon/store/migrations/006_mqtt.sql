-- The MQTT broker as a delivery target beside the HTTP webhooks, send jobs taken from it, and the
-- retained topics published there (so that what a removed phone left behind can be cleared).

-- kind: 'http' (a webhook URL) or 'mqtt' (the [mqtt] broker; its url is the broker's, for display).
ALTER TABLE webhook ADD COLUMN kind TEXT NOT NULL DEFAULT 'http' CHECK (kind IN ('http', 'mqtt'));

-- One row per send job taken from the broker; job_id is the client's id: a job delivered again
-- (the gateway died between its commit and its acknowledgement) finds its row and is not scheduled twice.
CREATE TABLE mqtt_job (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    id_scheduled INTEGER,                              -- NULL: refused (error says why)
    topic TEXT NOT NULL,
    error TEXT,
    received_at REAL NOT NULL
);
CREATE INDEX mqtt_job_scheduled ON mqtt_job (id_scheduled) WHERE id_scheduled IS NOT NULL;

CREATE TABLE mqtt_retained (
    topic TEXT PRIMARY KEY,
    published_at REAL NOT NULL
);
