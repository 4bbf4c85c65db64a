/**
 * The target kernel's TCP congestion control towards the host unless a run
 * says otherwise: cubic, stock Linux's default (CONFIG_DEFAULT_TCP_CONG),
 * whatever the machine's own default is. netns/up.sh sets it on tgt0's
 * subnet route (congctl). Its own module so the CLI's help can name it
 * without loading the topology code.
 */
export const TARGET_CC = 'cubic';
