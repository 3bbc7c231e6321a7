from console.entrypoints.main import main

main()
