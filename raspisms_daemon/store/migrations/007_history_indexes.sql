-- sended and sended_part keep every SMS ever sent. Two questions asked for each SMS read them by a
-- column no index covered, so each read the whole history:
-- which numbers of a scheduled SMS have their sended row (the sender, for each SMS it sends:
-- store.scheduled.unsent_numbers and finish);
CREATE INDEX sended_number ON sended (scheduled_number);
-- the parts of an SMS (each delivery report; and the ON DELETE CASCADE from sended).
CREATE INDEX sended_part_sended ON sended_part (id_sended);
