// Atlas project file, in the Atlas CLI's format. The server drives the same
// files through Atlas's Go library (`go run . migrate | db diff | db check`);
// with the CLI installed, `atlas migrate apply --env local` works on them too.
//
// schema.hcl is the desired state; migrations/ the versioned SQL with atlas.sum.
// The pg_trgm extension is created by the first (hand-written) migration: the
// dev database needs it before schema.hcl can be normalized.
//
// The job queue's tables (river_job, river_leader, ..., and the enum
// river_job_state) are installed and upgraded by River's own migrator, which
// `go run . migrate` runs after these files; they are not in schema.hcl, so
// every env leaves them out of inspection and drift checks. Both spellings:
// "river_*" when the URL is bound to a schema, "public.river_*" when not.

variable "database_url" {
  type    = string
  default = getenv("DATABASE_URL")
}

variable "dev_url" {
  type    = string
  default = getenv("DEV_DATABASE_URL")
}

locals {
  migration_dir = "file://migrations"
  exclude       = ["river_*", "public.river_*"]
  // Where Atlas normalizes schema.hcl and replays migrations.
  dev = var.dev_url != "" ? var.dev_url : "docker://postgres/15/dev?search_path=public"
}

// A developer's machine: the database the server uses.
env "local" {
  src = "file://schema.hcl"
  url = var.database_url
  dev = local.dev
  schemas = ["public"]
  exclude = local.exclude
  migration {
    dir = local.migration_dir
  }
  format {
    migrate {
      diff = "{{ sql . \"  \" }}"
    }
  }
}

// Authoring migrations: `atlas migrate diff --env dev NAME`.
env "dev" {
  src = "file://schema.hcl"
  dev = local.dev
  schemas = ["public"]
  exclude = local.exclude
  migration {
    dir = local.migration_dir
  }
  format {
    migrate {
      diff = "{{ sql . \"  \" }}"
    }
  }
}

// CI: lint and verify the directory against a throwaway database.
env "ci" {
  src = "file://schema.hcl"
  url = var.database_url
  dev = local.dev
  schemas = ["public"]
  exclude = local.exclude
  migration {
    dir = local.migration_dir
  }
  lint {
    destructive {
      error = true
    }
  }
}
