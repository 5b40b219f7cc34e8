#!/bin/bash
set -e
sed -i 's/^mode = .*/mode = maintenance/' /srv/greeter/greeter.conf
sleep 1
