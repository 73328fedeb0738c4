// Profile names: the default one, and what a name may look like (flags, env and config.json are checked against it).

export const DEFAULT_PROFILE = 'default';
export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
