"""Example DAGs of the OnlineSIM provider: one scenario per file, each run end-to-end on the sandbox.

Installed as ``onlinesim_provider.example_dags``; with ``[core] load_examples`` on, Airflow 3.3
lists them next to its own examples.
"""
