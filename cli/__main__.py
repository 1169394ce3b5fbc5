from edgefabric.cli import main

main()
