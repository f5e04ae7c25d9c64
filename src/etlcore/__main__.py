from etlcore.cli import entry

entry()
