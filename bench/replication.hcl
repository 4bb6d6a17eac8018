# Configuration used by bench/run.sh for every database-replicator run.
# Everything that varies between runs comes from the environment:
#   REPLICATOR_VAR_source_url / REPLICATOR_VAR_target_url  cluster URLs (trust auth, no password)
#   REPLICATOR_VAR_database      database to copy (bench, or plan5k for the plan test)
#   REPLICATOR_VAR_jobs          snapshot.jobs and snapshot.index_jobs (JOBS in run.sh)
#   REPLICATOR_VAR_sync_method   "none" for the timed copies, "logical"/"xmin" for the lag tests
variable "source_url" {}
variable "target_url" {}
variable "database" {
  default = "bench"
}
variable "jobs" {
  default = 2
}
variable "sync_method" {
  default = "none"
}

source "bench" {
  url = var.source_url
}

target "bench" {
  url = var.target_url
}

replication "bench" {
  source    = source.bench
  target    = target.bench
  databases = [var.database]

  snapshot {
    jobs       = var.jobs
    index_jobs = var.jobs
    # pg_dump, pgcopydb and the bare pipe copy no roles: neither does this run.
    globals = false
  }

  sync {
    method = var.sync_method
  }
}
