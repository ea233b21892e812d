-- Each part keeps its user data, so that a message is decoded once from all of its parts joined: a
-- UCS-2 surrogate pair (an emoji) or a GSM-7 escape split between two parts decodes whole.
-- Parts stored before this migration have NULL here and are joined by their text.
ALTER TABLE multipart_part ADD COLUMN encoding TEXT;
ALTER TABLE multipart_part ADD COLUMN data BLOB;
