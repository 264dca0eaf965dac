-- A recording counts only once the server has seen the object (StatObject):
-- recording_key is set together with its size and upload time, never before.
ALTER TABLE bots
    ADD COLUMN recording_size_bytes  bigint,
    ADD COLUMN recording_uploaded_at timestamptz,
    ADD CHECK ((recording_key IS NULL) = (recording_uploaded_at IS NULL));
