"""TaskFlow decorators of the OnlineSIM provider (``@task.onlinesim_verification``)."""
