"""The contract itself must be fair: Rasa's own MemoizationPolicy keeps it."""
from rasa.core.policies.memoization import MemoizationPolicy

from tests.checks.policy_contract import PolicyContract


class TestMemoizationPolicyKeepsTheContract(PolicyContract):
    policy_class = MemoizationPolicy
