#!/usr/bin/env bash
# A library of functions: the scripts that source it set their own options.

dump_database() {
  pg_dump --format=custom "$1" | gzip > "$2"
}
