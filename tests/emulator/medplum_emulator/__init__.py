"""medplum-emulator: moto in server mode, extended with what the Medplum stacks need.

moto alone lacks CloudFormation models for many of the resource types our synthesized stacks use,
accepts parameter values CloudFormation refuses, and executes change sets synchronously. This
package adds the missing resource models (``resources``), CloudFormation's validation rules at
CreateChangeSet, asynchronous stack operations with per-resource events, and fault injection, so
the deploy engine is tested against something at least as strict as AWS.

Start it with ``scripts/emulator --port N`` (foreground, loopback only).
"""
