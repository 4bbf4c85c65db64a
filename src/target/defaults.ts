/**
 * The namespace a ddplab target serves unless told otherwise, in a module
 * of its own so that commands can check flags against it before anything
 * is built without loading the target (`ddplab run --help` stays light).
 */

/** Namespace size (`ddplab target --size`). */
export const DEFAULT_NAMESPACE_BYTES = 1024 * 1024 * 1024;

/** LBA size (`--lba-size`). */
export const DEFAULT_LBA_BYTES = 512;
