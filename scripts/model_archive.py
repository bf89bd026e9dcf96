"""Open a trained model archive (`models/*.tar.gz`) and load its policies the way Rasa does.

Used by `scripts.explain_tree` and by the policy benchmark, which both need a policy object
from a finished `rasa train` without starting an agent.
"""
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Text, Tuple, Union

from rasa.core.policies.policy import Policy
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.domain import Domain


@contextmanager
def archived_policies(
    archive: Union[Text, Path]
) -> Iterator[Tuple[Dict[Text, Policy], Domain]]:
    """Yield {graph node name: loaded policy} and the model's domain.

    The archive is unpacked into a temporary directory that is removed afterwards.
    """
    with tempfile.TemporaryDirectory() as directory:
        storage, metadata = LocalModelStorage.from_model_archive(Path(directory), archive)
        context = ExecutionContext(metadata.predict_schema, metadata.model_id)
        policies: Dict[Text, Policy] = {}
        for name, node in metadata.predict_schema.nodes.items():
            if isinstance(node.uses, type) and issubclass(node.uses, Policy) and node.resource:
                config = {**node.uses.get_default_config(), **node.config}
                policies[name] = node.uses.load(config, storage, node.resource, context)
        yield policies, metadata.domain
