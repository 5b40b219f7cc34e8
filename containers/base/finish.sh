#!/bin/sh
# Runs inside the bootstrapped root (chroot) before `docker import`: trim what a sandbox never needs.
set -e
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* /usr/share/info/*
