-- Another region's child hosted here is kept in memory only until it is final at our edge: the
-- home CC marks it then, and loads only the unmarked ones at start (memory does not grow with
-- history; a late event of a final one is looked up by id).
ALTER TABLE remote_children ADD COLUMN final_ns BIGINT;
CREATE INDEX remote_children_live ON remote_children (child_id) WHERE final_ns IS NULL;
