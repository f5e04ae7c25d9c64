"""`etlcore serve`: the Qianfan data-cleaning API and the ModelArts processor-task API over the task store,
for their official SDKs, plus a web console. Sits on top of `etlcore.tasks`; nothing below imports it."""
