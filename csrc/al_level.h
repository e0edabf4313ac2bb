/* Level meter: declarations added by the level kernel. */
