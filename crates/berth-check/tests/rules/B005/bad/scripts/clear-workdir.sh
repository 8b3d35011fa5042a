#!/bin/bash
# Clears a runner's work directory between jobs.
work_dir="/srv/runner/work/$1"

cd "$work_dir"
rm -rf ./*
echo "cleared $work_dir"
