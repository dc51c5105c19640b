from bot.entrypoints.cli import main

main()
