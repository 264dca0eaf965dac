-- Whether an attempt started on an existing, idle pool slot (warm) rather
-- than a new slot, task or process (cold): the deploy and create-to-IN_CALL
-- histograms are labelled by it.
ALTER TABLE deployments ADD COLUMN warm boolean NOT NULL DEFAULT false;
