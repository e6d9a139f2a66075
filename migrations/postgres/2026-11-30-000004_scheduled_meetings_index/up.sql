-- Free-slot reads (every day list, time list and confirm screen) and a
-- manager's upcoming meetings look for scheduled meetings not over yet:
-- a small, bounded set however long the history grows. Without this index
-- they scanned every meeting ever held (or every meeting of the owner).
CREATE INDEX meetings_scheduled_ends ON meetings (ends_at) WHERE status = 'scheduled';
