#!/bin/bash
# The reference solution: runs as the agent user. The task is only trusted when this passes every check.
set -e
grep -rl tok-123 /workspace | xargs sed -i '/tok-123/d'
