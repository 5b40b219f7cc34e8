#!/bin/bash
# The reference knows what the user would answer (the archive folder, which log).
set -e
mkdir -p /workspace/archive/2023
mv /workspace/logs/app-2023.log /workspace/archive/2023/
