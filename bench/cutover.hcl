# Configuration of bench/cutover.sh (the cutover case of make bench).
#   REPLICATOR_VAR_source_url / REPLICATOR_VAR_target_url  cluster URLs (trust auth, no password)
variable "source_url" {}
variable "target_url" {}

source "bench" {
  url = var.source_url
}

target "bench" {
  url = var.target_url
}

replication "bench" {
  source    = source.bench
  target    = target.bench
  databases = ["bench"]

  snapshot {
    jobs       = 2
    index_jobs = 2
    globals    = false
  }

  sync {
    method = "logical"
  }

  # pgbench_history has no primary key; pgbench -N only inserts into it,
  # but the cutover's checks and any later --reverse want an identity.
  table "bench.pgbench_history" {
    replica_identity = "full"
  }
}
