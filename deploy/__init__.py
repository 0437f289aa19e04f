"""A real Airflow deployment on one machine, for the deployment test and for trying the provider by hand.

PostgreSQL from the distribution's packages, Airflow with ``LocalExecutor`` and its four components
(scheduler, dag-processor, triggerer, api-server) as separate processes, and the OnlineSIM sandbox,
all on loopback, all under one temporary directory that is removed afterwards.
"""
