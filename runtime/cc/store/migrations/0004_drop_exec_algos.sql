-- The execution algorithms keep their schedule and progress in their parent's decision (one row,
-- written with the parent's state in one unit): 0002's table was never written. Dropped so the
-- schema holds only what the CC reads and writes.
DROP TABLE exec_algos;
