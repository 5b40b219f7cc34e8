"""Running a run's episodes on a Ray cluster: nodes that advertise a Docker engine run them, the driver
keeps the store. Ray is an optional extra (`groundtruth[ray]`); nothing here imports it at module level."""
