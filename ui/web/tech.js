'use strict';
// Technicians and the fleet: the unprovisioned screen (a terminal that was
// never enrolled shows its device id; an enrollment QR held to the
// terminal's scanner, or a typed token, enrolls it) and the platform's
// notice on the home screen.
(() => {
  const { h, t, act } = TB;
  TB.strings({
    provTitle: '终端尚未开通', provDevice: '设备号',
    provHow: '请用本机扫码器扫描县级平台发放的开通二维码；或在下方输入开通令牌。',
    provPlatform: '平台地址', provToken: '开通令牌', provPin: '证书指纹（https 平台必填，64 位十六进制）',
    provEnroll: '开通', provEnrolling: '正在开通，请稍候…',
    provEnrolled: '开通成功', provSite: '网点', provTownship: '乡镇/街道', provTerminal: '终端号', provTook: '用时',
    provContinue: '开始使用', provFailed: '开通失败',
    provErr: { wrongPin: '平台证书与二维码不符：二维码有误或连接被拦截，请向平台索取新的二维码。', tokenExpired: '开通令牌已过期，请向平台索取新的二维码。',
      tokenUsed: '该开通令牌已被使用，请向平台索取新的二维码。', tokenUnknown: '平台不认识该令牌，请核对后重试。', refused: '平台拒绝开通。',
      invalidData: '输入有误。', failed: '无法连接平台，请检查网络后重试。' },
    platformNotice: '平台通知',
  }, {
    provTitle: 'Terminal not provisioned', provDevice: 'Device id',
    provHow: 'Hold the enrollment QR from the county platform to this terminal\'s scanner, or type the enrollment token below.',
    provPlatform: 'Platform address', provToken: 'Enrollment token', provPin: 'Certificate pin (required for https: 64 hex digits)',
    provEnroll: 'Enroll', provEnrolling: 'Enrolling, please wait…',
    provEnrolled: 'Enrolled', provSite: 'Site', provTownship: 'Township', provTerminal: 'Terminal id', provTook: 'Took',
    provContinue: 'Start', provFailed: 'Enrollment failed',
    provErr: { wrongPin: 'The platform\'s certificate does not match the QR: a wrong QR or an intercepted connection. Get a fresh QR.', tokenExpired: 'The token has expired: get a fresh QR from the platform.',
      tokenUsed: 'That token was already used: get a fresh QR from the platform.', tokenUnknown: 'The platform does not know that token: check it and try again.', refused: 'The platform refused the enrollment.',
      invalidData: 'Check what you typed.', failed: 'Could not reach the platform: check the network and try again.' },
    platformNotice: 'Notice',
  });

  // What the technician types; nothing here is a resident's.
  const typed = { platform: null, token: '', pin: '' };

  function field(id, label, key, value, attrs) {
    return h('label', { class: 'prov-field', for: id }, h('span', {}, label),
      h('input', Object.assign({ id, type: 'text', value: value ?? '', autocomplete: 'off', spellcheck: 'false',
        oninput: (e) => { typed[key] = e.target.value; } }, attrs || {})));
  }

  function unprovisioned(s) {
    const p = s.provision || {};
    if (p.status === 'enrolled') {
      return [
        h('h1', { id: 'prov-title', class: 'ok' }, '✓ ', t('provEnrolled')),
        h('dl', { class: 'facts', id: 'prov-result' },
          h('dt', {}, t('provSite')), h('dd', { id: 'prov-site' }, p.site),
          h('dt', {}, t('provTownship')), h('dd', { id: 'prov-township' }, p.township),
          h('dt', {}, t('provTerminal')), h('dd', { id: 'prov-terminal' }, p.terminalId),
          h('dt', {}, t('provDevice')), h('dd', { id: 'prov-device' }, p.deviceId),
          p.elapsed ? [h('dt', {}, t('provTook')), h('dd', { id: 'prov-elapsed' }, p.elapsed)] : null),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary', id: 'prov-continue', onclick: () => act('Provision.Continue') }, t('provContinue'))),
      ];
    }
    if (typed.platform === null) typed.platform = p.platform || '';
    const busy = p.status === 'enrolling';
    const errs = TB.table('provErr');
    return [
      h('h1', { id: 'prov-title' }, t('provTitle')),
      h('p', { class: 'prov-device' }, t('provDevice'), ' ', h('code', { id: 'prov-device' }, p.deviceId)),
      h('p', { class: 'hint' }, t('provHow')),
      busy ? h('p', { class: 'hint', id: 'prov-busy', role: 'status' }, t('provEnrolling')) : null,
      p.status === 'failed' ? h('p', { class: 'err', id: 'prov-error', role: 'alert', 'data-code': p.errorCode },
        '⚠ ', t('provFailed'), ': ', errs[p.errorCode] || '', ' ', h('small', {}, p.error)) : null,
      h('form', { class: 'card prov-form', id: 'prov-form', onsubmit: (e) => {
        e.preventDefault();
        act('Provision.Enroll', { platform: typed.platform.trim(), token: typed.token.trim(), pin: typed.pin.trim() });
      } },
      field('prov-platform', t('provPlatform'), 'platform', typed.platform),
      field('prov-token', t('provToken'), 'token', typed.token),
      field('prov-pin', t('provPin'), 'pin', typed.pin),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'primary', id: 'prov-enroll', disabled: busy }, t('provEnroll')))),
    ];
  }
  TB.screen('unprovisioned', unprovisioned);

  // The platform's notice (its configuration's banner) on the home screen.
  TB.home((s) => {
    if (!s.banner) return null;
    const text = TB.lang() === 'en' && s.banner.en ? s.banner.en : s.banner.zh;
    return h('p', { class: 'platform-notice', id: 'platform-notice', role: 'note' }, h('strong', {}, t('platformNotice'), '：'), text);
  });
})();
