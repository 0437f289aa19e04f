"""Where Airflow finds the OnlineSIM provider's example DAGs; import nothing from here.

Airflow 3.3 discovers a provider's example DAGs by importing the module named after its
distribution (``airflow-provider-onlinesim`` gives ``airflow_provider_onlinesim``) and looking
for an ``example_dags`` folder in that module's ``__path__``. The example DAGs are installed as
``onlinesim_provider.example_dags``, so this module's path is the folder that holds them:
``onlinesim_provider/`` in an installed wheel, the repository root in an editable install.
The provider's code lives in :mod:`onlinesim_provider`.
"""

from __future__ import annotations

import os

from onlinesim_provider import example_dags as _example_dags

__path__ = [os.path.dirname(folder) for folder in _example_dags.__path__]
