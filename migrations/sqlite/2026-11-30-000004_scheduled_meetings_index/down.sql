DROP INDEX meetings_scheduled_ends;
