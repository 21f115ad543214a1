from qa_lightning.compare.report import main

main()
