// bench/reload's PM2 ecosystem: the app (run.mjs's copy of pm2-app.mjs, RELOAD_APP) in cluster
// mode with 2 workers on PORT — what `pm2 reload` restarts one worker at a time.
module.exports = {
  apps: [
    {
      name: 'reload-bench',
      script: process.env.RELOAD_APP,
      instances: 2,
      exec_mode: 'cluster',
      autorestart: true,
      env: { PORT: process.env.PORT },
    },
  ],
};
