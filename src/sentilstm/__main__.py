from sentilstm.cli import main

main()
