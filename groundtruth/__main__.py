from groundtruth.cli import main

main()
