from audiolab.cli import run

run()
